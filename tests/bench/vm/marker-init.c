// SPDX-License-Identifier: Apache-2.0
// The boot floor for the VM benchmark: an /init that does nothing but print one marker line on
// the console and power the guest off.  QEMU start -> this marker is the least any /init can
// cost on the same kernel, so the agent's QEMU start -> Health.Check answer is reported as a
// ratio to it.  Raw syscalls only: no stdio buffering between exec and the marker.
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	static const char marker[] = "KAC-FLOOR-MARKER\n";

	// The initramfs provides /dev/console; the kernel opened it as fds 0-2 before exec.
	if (write(STDOUT_FILENO, marker, strlen(marker)) < 0)
		return 1;
	sync();
	reboot(RB_POWER_OFF);
	// Only reached if reboot(2) failed; PID 1 must not exit (that panics the guest).
	for (;;)
		pause();
}
