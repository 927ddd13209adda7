/* Built by rootfs/build.sh with musl-gcc and linked dynamically against
 * /lib/ld-musl-ARCH.so.1: if this runs inside a container, the musl loader
 * and dynamic linking work there. */
#include <stdio.h>

int main(void)
{
	if (fputs("hello from musl\n", stdout) == EOF || fflush(stdout) != 0)
		return 1;
	return 0;
}
