"""Classification losses: BCE, BCEWithLogits, NLL, CrossEntropy, SoftMargin, MultiLabelSoftMargin."""
