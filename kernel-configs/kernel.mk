# kernel-configs: rules (to be written)
