"""What passes between stages: the one home of every shared column, file name and model interface.

A writer and its readers both import the contract, so no stage reaches into another stage's
code to learn a column or a file name. Contracts hold names, small value types and the checks
a reader runs at the boundary; they import nothing heavier than numpy and pandas.

- fault_log: the tablet-press sensor log (data/fault/) the fault DNN trains on
- fault_model: the fault DNN's ONNX interface (models/fault_dnn.onnx) the optimiser embeds
- line: the line data (data/line/) the forecaster trains on and the monitor replays
- process_model: the forecaster's ONNX interface (models/process_lstm.onnx) the monitor runs
- inventory/: the inventory log, its rules and catalogue (one set for prepare_inventory and the
  prediction service), the daily series (data/inventory/), and the usage models
- prices: the hourly price file (data/prices/prices.csv) the optimiser reads
"""
