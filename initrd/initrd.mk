# initrd: rules (to be written)
