# tests: rules (to be written)
