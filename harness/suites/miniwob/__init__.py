"""MiniWoB++ tasks from the `miniwob` package, in headless Chromium, seen as screenshots."""
