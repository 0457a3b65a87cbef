"""Continuous-manufacturing forecaster (stage train_process) and its real-time replay.

Data: data/line/aligned.parquet (all sheets on one grid, prepare_line), layout.json (targets,
actuators, the channel that says the press runs) and events.csv (ground truth).

Definitions used in reports/process/metrics.json:
- Forecasts: window t holds steps t-lookback+1..t of every channel; the LSTM predicts each
  target at t+h for every h in model.process.horizons (as a change from its last value).
  Baselines on the same windows: persistence, moving average, linear AR on the target's own
  lags. MAE/RMSE in the target's units; MASE divides MAE by the training period's MAE of
  persistence at the same horizon. `improvement` = 1 - MAE(LSTM) / MAE(best baseline).
- Golden profile: per channel, median and 1.4826*MAD of training steps that are running
  and farther than golden.event_margin_s from a known disturbance; limits are
  median +- k_sigma * that scale.
- Early warning (pipeline.process.control.EarlyWarning): the forecast at warnings.horizon
  is beyond a limit for `debounce` steps. Targets crossing within warnings.incident_s of the
  line's last warning join that incident, so one disturbance gives one alarm (naming the
  target forecast farthest out, listing the others in `also`). The recommendation names
  the actuator (upstream channel) that deviates most from its golden value (if more than
  actuator_z sigmas) and the change back to golden; otherwise it names the target itself
  and the direction.
- Scoring: a disturbance is caught by a warning between match_before_s ahead of its start
  and match_after_s after its end. Lead time: when the warned target's measurement first
  left its limits minus when the first warning came (negative: the measurement was out
  first). Other warnings are false alarms, per hour of test time outside every
  disturbance's window (routine feeder refills are in-control time: a warning they cause
  is a false alarm).
"""
