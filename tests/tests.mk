# Test layers.  Each component adds its suites in a .mk beside them (tests/*/*.mk) and appends
# its targets to CHECK_TARGETS.
include $(sort $(wildcard tests/*/*.mk))
