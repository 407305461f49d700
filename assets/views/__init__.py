"""Views of the register, one module per page family (list, detail and forms, labels)."""
