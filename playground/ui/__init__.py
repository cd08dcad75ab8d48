"""Qt widgets: the desktop window on top of playground.core."""
