/*
 * fs: small file-system helpers shared by the modules that write files.
 */
#ifndef ENRICHD_FS_H
#define ENRICHD_FS_H

/*
 * Creates dir and every missing parent (mode 0755), like `mkdir -p`. Returns 0 (also when it
 * exists), -ENAMETOOLONG, or the -errno of the mkdir that failed.
 */
int fs_mkdirs(const char *dir);

#endif
