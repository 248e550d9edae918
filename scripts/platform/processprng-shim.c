/* bcryptprimitives.dll for Wine 8, which lacks ProcessPrng: Rust's std (1.78+) imports it on
   Windows for its random numbers (HashMap keys). This one-function DLL forwards to
   RtlGenRandom (advapi32's SystemFunction036), which Wine has. Used only to run the Windows test
   binaries under Wine (scripts/platform-checks.sh); never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
