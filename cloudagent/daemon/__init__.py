"""The agent daemon: the loop, supervision of its children, its state directory."""
