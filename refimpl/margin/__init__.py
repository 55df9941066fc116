"""Margin losses: HingeEmbedding, MarginRanking, MultiMargin, MultiLabelMargin, CosineEmbedding."""
