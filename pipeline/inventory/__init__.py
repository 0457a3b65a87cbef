"""Chemical-usage forecasting: global LSTM vs baselines, per-chemical selection, reorder advice."""
