/* Files that are installed beside a program: a path relative to the folder
 * of the running binary (/proc/self/exe), so an installed wufeid or wufei
 * finds <prefix>/share/wufei/catalogue.tsv wherever the prefix is. */
#ifndef WF_EXE_PATH_H
#define WF_EXE_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Writes <folder of the running binary>/rel into path (len bytes) and
 * returns true when that file is readable; false when the binary's folder
 * cannot be read, the path does not fit, or no such file is there (as in a
 * build tree). */
bool wf_exe_relative_file(const char *rel, char *path, size_t len);

#endif
