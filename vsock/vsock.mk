# vsock/: host tools.  Sub-components keep their rules in vsock/*/*.mk.
include $(sort $(wildcard vsock/*/*.mk))
