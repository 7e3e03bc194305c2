"""The terminal UI (`sovrium tui`), the only package that imports textual; its screens call `services`."""
