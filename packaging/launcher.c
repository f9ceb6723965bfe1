/*
 * The front of dist/hl-local: this small program, then a gzip'd tar of PyInstaller's one-folder build
 * of hl-local, then a trailer (see below). packaging/build-binary puts the three together.
 *
 * The first run of a build unpacks the folder once into the user's cache,
 * $XDG_CACHE_HOME/hl-local/bin/<version>-<hash>/ (else ~/.cache/...); every run then exec()s the
 * unpacked executable in this same process. So a run costs what the one-folder build costs (a
 * one-file PyInstaller build unpacked ~240 MB on every start: 1.7 s instead of 0.6), and signals,
 * exit codes and `kill -9` reach hl-local itself as with a pip install: there is no parent process
 * whose death would orphan the server, and nothing is unpacked per run.
 *
 * Unpacking goes into a private temporary folder renamed into place when complete, so a run that is
 * killed half-way, or two first runs at once, never leave a partial folder where the next run looks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

/* The last TRAILER_SIZE bytes of the file: key (NUL-padded), payload offset, payload size (both
 * little-endian), magic. The key names the cache folder: the version and a hash of the payload. */
#define KEY_SIZE 64
#define MAGIC "HLLBIN01"
#define TRAILER_SIZE (KEY_SIZE + 8 + 8 + 8)
#define TAR_BLOCK 512

static void fail(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fputs("hl-local: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

struct payload {
    char key[KEY_SIZE + 1];
    uint64_t offset, size;
};

static void read_trailer(int fd, struct payload *out) {
    struct stat st;
    unsigned char t[TRAILER_SIZE];
    if (fstat(fd, &st) != 0 || st.st_size < TRAILER_SIZE ||
        pread(fd, t, TRAILER_SIZE, st.st_size - TRAILER_SIZE) != TRAILER_SIZE ||
        memcmp(t + KEY_SIZE + 16, MAGIC, 8) != 0)
        fail("this executable is damaged (no payload found); download it again");
    memcpy(out->key, t, KEY_SIZE);
    out->key[KEY_SIZE] = '\0';
    out->offset = le64(t + KEY_SIZE);
    out->size = le64(t + KEY_SIZE + 8);
    if (out->key[0] == '\0' || strchr(out->key, '/') || out->key[0] == '.' ||
        out->offset + out->size > (uint64_t)st.st_size - TRAILER_SIZE)
        fail("this executable is damaged (bad trailer); download it again");
}

static void join(char *out, const char *a, const char *b) {
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX) fail("path too long: %s/%s", a, b);
}

/* mkdir -p, creating what is missing with `mode`. */
static int make_dirs(const char *path, mode_t mode) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(buf, mode) != 0 && errno != EEXIST) ? -1 : 0;
}

/* The folder holding unpacked builds; it must be ours and writable by nobody else, since what
 * is in it gets executed. */
static void cache_dir(char *out) {
    char base[PATH_MAX];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/') {
        snprintf(base, sizeof base, "%s", xdg);
    } else {
        if (!home || home[0] != '/') {
            struct passwd *pw = getpwuid(geteuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home || home[0] != '/') fail("no home directory to unpack into; set HOME or XDG_CACHE_HOME");
        join(base, home, ".cache");
    }
    join(out, base, "hl-local/bin");
    if (make_dirs(out, 0700) != 0) fail("cannot create %s: %s; set XDG_CACHE_HOME to a writable directory", out, strerror(errno));
    struct stat st;
    if (lstat(out, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        fail("%s must be a directory of yours that others cannot write to", out);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Folders `.KEY.PID` left by a first run that was killed while unpacking. */
static void remove_stale_unpacks(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (e->d_name[0] != '.' || !dot || dot == e->d_name) continue;
        long pid = strtol(dot + 1, NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char path[PATH_MAX];
            join(path, dir, e->d_name);
            remove_tree(path);
        }
    }
    closedir(d);
}

static uint64_t octal(const char *field, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && field[i] >= '0' && field[i] <= '7'; i++) v = v * 8 + (uint64_t)(field[i] - '0');
    return v;
}

static void read_exact(gzFile gz, void *buf, unsigned n) {
    if (gzread(gz, buf, n) != (int)n) fail("this executable is damaged (payload cut short); download it again");
}

/* A member name must stay inside the folder: relative, without `..`. */
static int safe_name(const char *name) {
    if (name[0] == '/' || name[0] == '\0') return 0;
    for (const char *p = name; (p = strstr(p, "..")); p += 2)
        if ((p == name || p[-1] == '/') && (p[2] == '/' || p[2] == '\0')) return 0;
    return 1;
}

static void write_member(gzFile gz, const char *path, uint64_t size, mode_t mode) {
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (out < 0) fail("cannot write %s: %s", path, strerror(errno));
    char buf[1 << 16];
    for (uint64_t left = size; left > 0;) {
        unsigned n = left < sizeof buf ? (unsigned)left : sizeof buf;
        read_exact(gz, buf, n);
        if (write(out, buf, n) != (ssize_t)n) fail("cannot write %s: %s", path, strerror(errno));
        left -= n;
    }
    if (close(out) != 0) fail("cannot write %s: %s", path, strerror(errno));
    unsigned pad = (unsigned)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
    if (pad) read_exact(gz, buf, pad);
}

/* Unpack the ustar payload (regular files, directories, symlinks: what build-binary writes). */
static void unpack(int fd, const struct payload *p, const char *into) {
    if (lseek(fd, (off_t)p->offset, SEEK_SET) < 0) fail("cannot read this executable: %s", strerror(errno));
    gzFile gz = gzdopen(dup(fd), "rb");
    if (!gz) fail("out of memory");
    gzbuffer(gz, 1 << 17);
    for (;;) {
        unsigned char h[TAR_BLOCK];
        read_exact(gz, h, TAR_BLOCK);
        if (h[0] == '\0') break; /* the end-of-archive block */
        unsigned sum = 0;
        for (int i = 0; i < TAR_BLOCK; i++) sum += (i >= 148 && i < 156) ? ' ' : h[i];
        if (sum != octal((char *)h + 148, 8)) fail("this executable is damaged (bad header); download it again");
        char name[PATH_MAX], path[PATH_MAX], link[101];
        if (h[345]) snprintf(name, sizeof name, "%.155s/%.100s", (char *)h + 345, (char *)h);
        else snprintf(name, sizeof name, "%.100s", (char *)h);
        if (!safe_name(name)) fail("this executable is damaged (bad member %s); download it again", name);
        join(path, into, name);
        uint64_t size = octal((char *)h + 124, 12);
        mode_t mode = (mode_t)octal((char *)h + 100, 8) & 0755;
        char type = (char)h[156];
        if (type == '0' || type == '\0') {
            write_member(gz, path, size, mode);
        } else if (type == '5') {
            if (make_dirs(path, 0755) != 0) fail("cannot create %s: %s", path, strerror(errno));
        } else if (type == '2') {
            snprintf(link, sizeof link, "%.100s", (char *)h + 157);
            if (symlink(link, path) != 0) fail("cannot create %s: %s", path, strerror(errno));
        } else {
            fail("this executable is damaged (member type %c); download it again", type);
        }
    }
    gzclose(gz);
}

/* This executable's own file: /proc/self/exe, or where argv[0] says when /proc is not mounted. */
static int open_self(const char *argv0) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 || !strchr(argv0, '/')) return fd;
    return open(argv0, O_RDONLY | O_CLOEXEC);
}

int main(int argc, char **argv) {
    (void)argc;
    int fd = open_self(argv[0]);
    if (fd < 0) fail("cannot read this executable (is /proc mounted?): %s", strerror(errno));
    struct payload p;
    read_trailer(fd, &p);
    char dir[PATH_MAX], target[PATH_MAX], exe[PATH_MAX];
    cache_dir(dir);
    join(target, dir, p.key);
    join(exe, target, "hl-local");
    if (access(exe, X_OK) != 0) {
        remove_stale_unpacks(dir);
        char tmp[PATH_MAX], name[KEY_SIZE + 32];
        snprintf(name, sizeof name, ".%s.%ld", p.key, (long)getpid());
        join(tmp, dir, name);
        remove_tree(tmp);
        if (mkdir(tmp, 0700) != 0) fail("cannot create %s: %s", tmp, strerror(errno));
        unpack(fd, &p, tmp);
        chmod(tmp, 0755);
        if (rename(tmp, target) != 0) {
            int err = errno;
            remove_tree(tmp);
            /* another first run got there first: use its folder */
            if ((err != EEXIST && err != ENOTEMPTY) || access(exe, X_OK) != 0)
                fail("cannot unpack into %s: %s; remove it and retry", target, strerror(err));
        }
    }
    close(fd);
    execv(exe, argv);
    fail("cannot run %s: %s; remove %s and retry", exe, strerror(errno), target);
}
