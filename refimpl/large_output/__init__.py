"""Large-output losses: AdaptiveLogSoftmaxWithLoss, LinearCrossEntropyLoss."""
