/* Files installed beside the running binary (see wf_exe_path.h). */
#include "wf_exe_path.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool
wf_exe_relative_file(const char *rel, char *path, size_t len)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || (size_t)n >= sizeof exe - 1)
        return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return false;
    *slash = '\0';
    if ((size_t)snprintf(path, len, "%s/%s", exe, rel) >= len)
        return false;
    return access(path, R_OK) == 0;
}
