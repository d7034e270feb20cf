"""The suites shipped with guiagent: miniwob, simphone and desktop (`guiagent bench NAME`)."""
