"""The live re-planner: listens to the presses over OPC UA, re-plans the rest of the day, publishes."""
