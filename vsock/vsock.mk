# vsock: rules (to be written)
