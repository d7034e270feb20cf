"""AndroidWorld-style tasks on the simulated phone (envs.simphone), checked through adb state."""
