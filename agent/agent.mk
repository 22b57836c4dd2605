# agent: rules (to be written)
