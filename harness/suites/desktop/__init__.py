"""Desktop tasks in OSWorld format on an Xvfb display, with small Tk apps shipped here."""
