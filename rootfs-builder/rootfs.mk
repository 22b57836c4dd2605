# rootfs-builder: rules (to be written)
