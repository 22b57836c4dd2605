// SPDX-License-Identifier: Apache-2.0
/*
 * A stand-in "agent" for the builder tests: a tiny freestanding static executable that exits 0.
 * Built with -nostdlib -static for x86_64 (host gcc) and riscv64 (riscv64-linux-gnu-gcc), so the
 * tests need neither the real agent nor a riscv64 libc.
 */
void _start(void) __attribute__((noreturn, used));

void _start(void)
{
#if defined(__x86_64__)
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
#elif defined(__riscv) && __riscv_xlen == 64
	__asm__ volatile("li a7, 93\n\tli a0, 0\n\tecall");
#else
#error "stand-in agent: unsupported architecture"
#endif
	__builtin_unreachable();
}
