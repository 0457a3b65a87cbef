"""The fault DNN: failure probability of a tablet-press interval from six inputs (issue 3)."""
