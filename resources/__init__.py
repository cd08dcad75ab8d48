"""Icons, example projects and styles shipped with Playground."""
