"""Metric-learning losses: TripletMargin, TripletMarginWithDistance."""
