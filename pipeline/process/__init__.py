"""Continuous-manufacturing forecaster (stage train_process) and its real-time replay.

Data: data/line/aligned.parquet (all sheets on one grid, prepare_line, with the batch and
campaign columns where the source names them), layout.json (targets, actuators, the
operating-state rule, the segment columns) and events.csv (ground truth).

Definitions used in reports/process/metrics.json:
- Operating states (states.py): stopped, ramping, running, from the speed and force channels
  and the time since the last stop (data.line.states). Model windows lie in one batch and
  forecast the running press (origin and every forecast step running).
- Split: by batch where the data name batches (the last batch is the test), else by time.
- Forecasts: window t holds steps t-lookback+1..t of every channel; the LSTM predicts each
  target at t+h for every h in model.process.horizons as a correction to the baseline that
  won on validation. Baselines on the same windows: persistence, moving average, linear AR
  on the target's own lags. MAE/RMSE in the target's units; MASE divides MAE by the training
  period's MAE of persistence at the same horizon. `improvement` = 1 - MAE(LSTM) / MAE(best
  baseline); `selected_improvement` the same for the deployed forecaster.
- Selection (selection.py): per target and horizon the best baseline on validation, the LSTM
  where it beats it there by select.lstm_min_gain; the exported ONNX model is that selection.
- Golden profile: per channel and operating state, median and 1.4826*MAD of the steps before
  the test period that are in that state and farther than golden.event_margin_s from a known
  disturbance; limits are median +- k_sigma * that scale.
- Early warning (control.EarlyWarning): in a state listed in warnings.states (never stopped),
  the forecast at warnings.horizon is beyond that state's limit for `debounce` steps. A target
  that warned re-arms once its forecast was back inside by rearm_sigma for rearm_s. Targets
  crossing within warnings.incident_s of the line's last warning join that incident, so one
  disturbance gives one alarm (naming the target forecast farthest out, listing the others in
  `also`). The recommendation names the actuator (upstream channel) that deviates most from
  its golden value (if more than actuator_z sigmas) and the change back to golden; otherwise
  it names the target itself and the direction. Unplanned stops are events apart from them.
- Scoring: a disturbance is caught by a warning between match_before_s ahead of its start
  and match_after_s after its end. Lead time: when the warned target's measurement first
  left its limits minus when the first warning came (negative: the measurement was out
  first). Other warnings are false alarms, per hour of test time outside every
  disturbance's window (routine feeder refills are in-control time: a warning they cause
  is a false alarm). Without ground truth (a real series), warnings per running hour.
"""
