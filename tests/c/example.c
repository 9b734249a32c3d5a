/*
 * A complete program on librostree's C API, in two phases around an HTTP server:
 *
 *   example commit WORKDIR
 *     makes WORKDIR/tree (a small bootable OS tree), commits it into the new archive
 *     repository WORKDIR/repo, reads it back (commit, tree, a file), signs it with the
 *     ed25519 key in $EXAMPLE_SECRET_KEY (base64) and verifies that with
 *     $EXAMPLE_PUBLIC_KEY, generates a static delta, writes the summary, prunes a scratch
 *     repository, checks errors. Prints "commit CHECKSUM".
 *   example pull-deploy URL WORKDIR
 *     pulls the commit from URL (WORKDIR/repo served) into a bare-user repository and into
 *     the new sysroot WORKDIR/sysroot, and deploys it there twice (stateroot "demo").
 *     Prints "deployment CHECKSUM".
 *
 * Every failure prints why and exits 1. Built by tests/c/run.sh against the installed
 * library (pkg-config rostree-1), which also runs it under valgrind.
 */
#define _POSIX_C_SOURCE 200809L

#include <rostree.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BRANCH "demo/stable"
#define SUBJECT "Demo commit from C"
#define BODY "Committed through librostree."
#define TIMESTAMP 1700000000
#define KERNEL_DIR "usr/lib/modules/6.1.0-demo"

static int failed(const char *what, RostreeError *error)
{
    const char *path = rostree_error_path(error);
    fprintf(stderr, "example: %s: %s (code %d%s%s)\n", what, rostree_error_message(error),
            (int)rostree_error_code(error), path ? ", path " : "", path ? path : "");
    rostree_error_free(error);
    return 1;
}

static int check(int ok, const char *what)
{
    if (!ok)
        fprintf(stderr, "example: check failed: %s\n", what);
    return ok ? 0 : 1;
}

/* dir/name into buf (PATH_MAX-sized buffers: the work directory is short). */
static const char *join(char *buf, const char *dir, const char *name)
{
    snprintf(buf, 4096, "%s/%s", dir, name);
    return buf;
}

static int make_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_file(const char *path, const char *content, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(content, f) >= 0;
    ok &= fclose(f) == 0;
    return ok && chmod(path, mode) == 0 ? 0 : -1;
}

/* An OS tree as ostree deploys it: /etc defaults in /usr/etc, a kernel and an initramfs
 * (stand-ins) in /usr/lib/modules/VERSION. */
static int make_tree(const char *tree)
{
    char a[4096], b[4096];
    if (make_dirs(join(a, tree, "usr/etc")) || make_dirs(join(a, tree, "usr/bin")) ||
        make_dirs(join(a, tree, KERNEL_DIR)))
        return -1;
    /* The bootloader entry's title comes from PRETTY_NAME (or ID). */
    static const char os_release[] =
        "NAME=rostree-c-demo\nID=rostree-c-demo\nPRETTY_NAME=\"rostree C demo\"\n";
    if (write_file(join(a, tree, "usr/etc/os-release"), os_release, 0644) ||
        write_file(join(a, tree, "usr/bin/hello"), "#!/bin/sh\necho hello\n", 0755) ||
        write_file(join(a, tree, KERNEL_DIR "/vmlinuz"), "a kernel\n", 0644) ||
        write_file(join(a, tree, KERNEL_DIR "/initramfs.img"), "an initramfs\n", 0644))
        return -1;
    return symlink("../bin/hello", join(b, tree, "usr/etc/hello-link"));
}

static int count_delta(const char *name, void *user_data)
{
    (void)name;
    ++*(int *)user_data;
    return 0;
}

/* The commit, its tree and a file, read back as `ostree show`, `ls -R` and `cat` would. */
static int read_back(RostreeRepo *repo, const char *checksum)
{
    RostreeError *error = NULL;
    RostreeCommitInfo info;
    if (rostree_repo_read_commit(repo, BRANCH, &info, &error))
        return failed("read_commit", error);
    int bad = check(strcmp(info.checksum, checksum) == 0 && info.parent[0] == '\0',
                    "the commit, without a parent");
    bad |= check(strcmp(info.subject, SUBJECT) == 0 && strcmp(info.body, BODY) == 0 &&
                     info.timestamp == TIMESTAMP && info.version == NULL,
                 "the commit's subject, body, time and no version");
    rostree_commit_info_clear(&info);
    rostree_commit_info_clear(&info); /* twice is harmless */

    RostreeTreeWalker *walker = NULL;
    if (rostree_repo_walk(repo, BRANCH, NULL, true, &walker, &error))
        return failed("walk", error);
    int entries = 0, hello = 0, link = 0;
    for (;;) {
        const RostreeTreeEntry *entry = NULL;
        if (rostree_tree_walker_next(walker, &entry, &error)) {
            rostree_tree_walker_free(walker);
            return failed("walker_next", error);
        }
        if (!entry)
            break;
        entries++;
        if (strcmp(entry->path, "/usr/bin/hello") == 0)
            hello = entry->kind == ROSTREE_ENTRY_KIND_FILE && entry->mode == 0755 &&
                    entry->size == 21 && strlen(entry->checksum) == 64;
        if (strcmp(entry->path, "/usr/etc/hello-link") == 0)
            link = entry->kind == ROSTREE_ENTRY_KIND_SYMLINK &&
                   strcmp(entry->symlink_target, "../bin/hello") == 0;
    }
    rostree_tree_walker_free(walker);
    printf("tree entries %d\n", entries);
    /* usr, usr/bin, usr/bin/hello, usr/etc, its os-release and link, usr/lib, modules,
     * the kernel's directory, vmlinuz, initramfs.img */
    bad |= check(entries == 11, "every entry walked");
    bad |= check(hello && link, "a file and a symlink described");

    RostreeFileReader *reader = NULL;
    if (rostree_repo_open_file(repo, BRANCH, "/usr/etc/hello-link", &reader, &error))
        return failed("open_file", error);
    char content[64] = {0};
    size_t total = 0, n = 0;
    do {
        if (rostree_file_reader_read(reader, content + total, 5, &n, &error)) {
            rostree_file_reader_free(reader);
            return failed("file_reader_read", error);
        }
        total += n;
    } while (n > 0 && total + 5 < sizeof content);
    bad |= check(rostree_file_reader_size(reader) == 21 &&
                     strcmp(content, "#!/bin/sh\necho hello\n") == 0,
                 "the link's target read in small pieces");
    rostree_file_reader_free(reader);
    bad |= check(rostree_repo_open_file(repo, BRANCH, "/usr", &reader, NULL) ==
                     ROSTREE_ERROR_CODE_INVALID_ARGUMENT,
                 "a directory is not a file");
    return bad;
}

/* An ed25519 signature, made and checked; a static delta; a prune of an older commit. */
static int sign_delta_prune(RostreeRepo *repo, const char *work)
{
    RostreeError *error = NULL;
    const char *secret = getenv("EXAMPLE_SECRET_KEY");
    const char *public = getenv("EXAMPLE_PUBLIC_KEY");
    if (!secret || !public)
        return check(0, "EXAMPLE_SECRET_KEY and EXAMPLE_PUBLIC_KEY are set");
    int bad = check(rostree_repo_verify_commit(repo, BRANCH, &public, 1, NULL, NULL) ==
                        ROSTREE_ERROR_CODE_FAILED,
                    "no signature yet");
    if (rostree_repo_sign_commit(repo, BRANCH, secret, &error))
        return failed("sign_commit", error);
    char *message = NULL;
    if (rostree_repo_verify_commit(repo, BRANCH, &public, 1, &message, &error))
        return failed("verify_commit", error);
    printf("%s\n", message);
    rostree_string_free(message);

    char *name = NULL;
    if (rostree_repo_generate_delta(repo, NULL, BRANCH, &name, &error))
        return failed("generate_delta", error);
    int deltas = 0;
    if (rostree_repo_list_deltas(repo, count_delta, &deltas, &error))
        return failed("list_deltas", error);
    printf("delta %s\n", name);
    bad |= check(deltas == 1 && strlen(name) == 64, "one delta, from nothing");
    rostree_string_free(name);

    /* A scratch repository with two commits of one tree: keeping no parent prunes the
     * first commit alone, and reading it then names the missing object. */
    char path[4096], tree[4096], first[ROSTREE_CHECKSUM_BUFSIZE], second[ROSTREE_CHECKSUM_BUFSIZE];
    RostreeRepo *scratch = NULL;
    if (rostree_repo_init(join(path, work, "scratch"), "bare-user", &scratch, &error))
        return failed("repo_init scratch", error);
    join(tree, work, "tree");
    if (rostree_repo_commit_dir(scratch, tree, "s", "one", NULL, 1, first, &error) ||
        rostree_repo_commit_dir(scratch, tree, "s", "two", NULL, 2, second, &error)) {
        rostree_repo_free(scratch);
        return failed("commit_dir scratch", error);
    }
    RostreePruneStats stats;
    if (rostree_repo_prune(scratch, true, 0, &stats, &error)) {
        rostree_repo_free(scratch);
        return failed("prune", error);
    }
    printf("pruned %llu of %llu objects, %llu bytes\n", (unsigned long long)stats.objects_pruned,
           (unsigned long long)stats.objects_total, (unsigned long long)stats.bytes_freed);
    bad |= check(stats.objects_pruned == 1 && stats.bytes_freed > 0, "the first commit pruned");
    RostreeCommitInfo info;
    int status = rostree_repo_read_commit(scratch, first, &info, &error);
    char object[128];
    snprintf(object, sizeof object, "%s.commit", first);
    bad |= check(status == ROSTREE_ERROR_CODE_NOT_FOUND && rostree_error_object(error) &&
                     strcmp(rostree_error_object(error), object) == 0,
                 "the pruned commit is NOT_FOUND, the error naming it");
    rostree_error_free(error);
    rostree_repo_free(scratch);
    return bad;
}

static int count_ref(const char *name, const char *checksum, void *user_data)
{
    (void)checksum;
    if (strcmp(name, BRANCH) == 0)
        ++*(int *)user_data;
    return 0;
}

/* The errors a caller branches on. */
static int check_errors(const char *work)
{
    char buf[4096];
    RostreeRepo *repo = NULL;
    RostreeError *error = NULL;
    const char *missing = join(buf, work, "no-such-repo");
    int status = rostree_repo_open(missing, &repo, &error);
    int bad = check(status == ROSTREE_ERROR_CODE_NOT_FOUND, "opening a missing repo: NOT_FOUND");
    bad |= check(error && rostree_error_code(error) == ROSTREE_ERROR_CODE_NOT_FOUND,
                 "the error's code is the status");
    bad |= check(error && rostree_error_path(error) &&
                     strcmp(rostree_error_path(error), missing) == 0,
                 "the error names the missing path");
    bad |= check(repo == NULL, "no repo on failure");
    rostree_error_free(error);
    error = NULL;

    status = rostree_repo_init(join(buf, work, "bogus"), "no-such-mode", &repo, &error);
    bad |= check(status == ROSTREE_ERROR_CODE_INVALID_ARGUMENT, "an unknown mode");
    rostree_error_free(error);
    error = NULL;

    /* NULL for a required argument, and no error object wanted. */
    bad |= check(rostree_repo_open(NULL, &repo, NULL) == ROSTREE_ERROR_CODE_INVALID_ARGUMENT,
                 "a NULL path");
    return bad;
}

static int phase_commit(const char *work)
{
    char tree[4096], path[4096], checksum[ROSTREE_CHECKSUM_BUFSIZE];
    char resolved[ROSTREE_CHECKSUM_BUFSIZE];
    RostreeError *error = NULL;
    RostreeRepo *repo = NULL;

    printf("librostree %s\n", rostree_version());
    if (make_tree(join(tree, work, "tree")) != 0) {
        perror("example: making the tree");
        return 1;
    }
    if (rostree_repo_init(join(path, work, "repo"), "archive", &repo, &error))
        return failed("repo_init", error);
    if (rostree_repo_commit_dir(repo, tree, BRANCH, SUBJECT, BODY, TIMESTAMP, checksum, &error))
        return failed("commit_dir", error);
    printf("commit %s\n", checksum);
    if (rostree_repo_resolve_rev(repo, BRANCH, resolved, &error))
        return failed("resolve_rev", error);
    int bad = check(strcmp(resolved, checksum) == 0, "the branch names the commit");
    int found = 0;
    if (rostree_repo_list_refs(repo, count_ref, &found, &error))
        return failed("list_refs", error);
    bad |= check(found == 1, "list_refs lists the branch");
    bad |= read_back(repo, checksum);
    bad |= sign_delta_prune(repo, work);
    if (rostree_repo_update_summary(repo, &error))
        return failed("update_summary", error);
    if (rostree_repo_fsck(repo, &error))
        return failed("fsck", error);
    if (rostree_repo_checkout(repo, BRANCH, join(path, work, "checkout"), true, &error))
        return failed("checkout", error);
    struct stat st;
    bad |= check(stat(join(path, work, "checkout/usr/bin/hello"), &st) == 0 &&
                     (st.st_mode & 0777) == 0755,
                 "the checkout has the tree's files");
    bad |= check(rostree_repo_resolve_rev(repo, "no/such/ref", resolved, NULL) ==
                     ROSTREE_ERROR_CODE_NOT_FOUND,
                 "an unknown ref: NOT_FOUND");
    rostree_repo_free(repo);
    bad |= check_errors(work);
    return bad;
}

/* Progress calls never overlap (the library serializes them), so plain fields do. */
struct progress {
    unsigned long calls, phases;
    uint64_t done, total, bytes;
};

static void on_progress(const char *phase, uint64_t done, uint64_t total, uint64_t bytes,
                        void *user_data)
{
    struct progress *p = user_data;
    p->calls++;
    if (phase)
        p->phases++;
    p->done = done;
    p->total = total;
    p->bytes = bytes;
}

static int pull(const char *repo_path, const char *mode, const char *url,
                struct progress *progress, const RostreeCancellable *cancellable,
                RostreeError **error)
{
    RostreeRepo *repo = NULL;
    const char *refs[] = {BRANCH};
    int status = rostree_repo_init(repo_path, mode, &repo, error);
    if (status == 0)
        status = rostree_repo_remote_add(repo, "origin", url, false, error);
    if (status == 0)
        status = rostree_repo_pull(repo, "origin", refs, 1, progress ? on_progress : NULL,
                                   progress, cancellable, error);
    rostree_repo_free(repo);
    return status;
}

static void *cancel_thread(void *cancellable)
{
    rostree_cancellable_cancel(cancellable);
    return NULL;
}

static int phase_pull_deploy(const char *url, const char *work)
{
    char path[4096], sysroot_path[4096], checksum[ROSTREE_CHECKSUM_BUFSIZE];
    RostreeError *error = NULL;
    struct progress progress = {0};
    int bad = 0;

    /* A plain pull into a bare-user repository, then a checkout of what came. */
    if (pull(join(path, work, "copy"), "bare-user", url, &progress, NULL, &error))
        return failed("pull into copy", error);
    printf("pulled %llu/%llu objects, %llu bytes, %lu progress calls (%lu phases)\n",
           (unsigned long long)progress.done, (unsigned long long)progress.total,
           (unsigned long long)progress.bytes, progress.calls, progress.phases);
    bad |= check(progress.calls > 0 && progress.phases > 0, "progress was reported");
    bad |= check(progress.done > 0 && progress.done == progress.total, "every object counted");
    RostreeRepo *copy = NULL;
    if (rostree_repo_open(path, &copy, &error))
        return failed("repo_open copy", error);
    if (rostree_repo_fsck(copy, &error))
        return failed("fsck copy", error);
    if (rostree_repo_checkout(copy, "origin:" BRANCH, join(path, work, "checkout-copy"), true,
                              &error))
        return failed("checkout copy", error);
    rostree_repo_free(copy);

    /* Cancelled from another thread: the pull stops with CANCELLED. */
    RostreeCancellable *cancellable = rostree_cancellable_new();
    pthread_t thread;
    if (pthread_create(&thread, NULL, cancel_thread, cancellable) != 0 ||
        pthread_join(thread, NULL) != 0)
        return check(0, "running the cancelling thread");
    int status = pull(join(path, work, "cancelled"), "bare-user", url, NULL, cancellable, &error);
    bad |= check(status == ROSTREE_ERROR_CODE_CANCELLED, "a cancelled pull: CANCELLED");
    rostree_error_free(error);
    error = NULL;
    rostree_cancellable_free(cancellable);

    /* A sysroot: its repository pulls the commit, which is deployed (twice: the second
     * deployment merges the first's /etc and keeps it as the rollback). */
    join(sysroot_path, work, "sysroot");
    if (rostree_sysroot_init(sysroot_path, "demo", &error))
        return failed("sysroot_init", error);
    if (pull(join(path, sysroot_path, "ostree/repo"), NULL, url, NULL, NULL, &error))
        return failed("pull into the sysroot", error);
    RostreeSysroot *sysroot = NULL;
    if (rostree_sysroot_load(sysroot_path, &sysroot, &error))
        return failed("sysroot_load", error);
    bad |= check(rostree_sysroot_deployment_count(sysroot) == 0, "no deployment yet");
    const char *kargs[] = {"quiet", "console=ttyS0"};
    if (rostree_sysroot_deploy(sysroot, "demo", "origin:" BRANCH, kargs, 2, &error))
        return failed("deploy", error);
    if (rostree_sysroot_deploy(sysroot, "demo", "origin:" BRANCH, NULL, 0, &error))
        return failed("deploy again", error);
    size_t count = rostree_sysroot_deployment_count(sysroot);
    printf("deployments %zu\n", count);
    bad |= check(count == 2, "two deployments");
    for (size_t i = 0; i < count; i++) {
        if (rostree_sysroot_deployment_checksum(sysroot, i, checksum) != 0)
            return check(0, "deployment_checksum");
        printf("deployment %s stateroot %s serial %lld state %u refspec %s\n", checksum,
               rostree_sysroot_deployment_stateroot(sysroot, i),
               (long long)rostree_sysroot_deployment_serial(sysroot, i),
               (unsigned)rostree_sysroot_deployment_state(sysroot, i),
               rostree_sysroot_deployment_refspec(sysroot, i));
    }
    /* Not booted: neither pending nor rollback; an origin that follows the branch. */
    bad |= check(rostree_sysroot_deployment_state(sysroot, 0) == 0 &&
                     rostree_sysroot_deployment_state(sysroot, 1) == 0,
                 "no deployment booted, pending or rollback");
    bad |= check(strcmp(rostree_sysroot_deployment_refspec(sysroot, 0), "origin:" BRANCH) == 0 &&
                     rostree_sysroot_deployment_version(sysroot, 0) == NULL,
                 "the refspec, and no version");
    bad |= check(rostree_sysroot_deployment_serial(sysroot, 0) == 1, "the newest first");
    bad |= check(strcmp(rostree_sysroot_deployment_stateroot(sysroot, 0), "demo") == 0,
                 "the stateroot");
    bad |= check(rostree_sysroot_deployment_stateroot(sysroot, count) == NULL &&
                     rostree_sysroot_deployment_checksum(sysroot, count, checksum) ==
                         ROSTREE_ERROR_CODE_INVALID_ARGUMENT,
                 "no deployment past the end");
    /* Nothing new on the server: an upgrade pulls, finds the same commit, deploys nothing. */
    bool changed = true;
    if (rostree_sysroot_upgrade(sysroot, "demo", false, NULL, NULL, NULL, &changed, &error))
        return failed("upgrade", error);
    bad |= check(!changed, "no update available");
    /* Rolling back: the rollback (serial 0) becomes the default. */
    if (rostree_sysroot_set_default(sysroot, 1, &error))
        return failed("set_default", error);
    bad |= check(rostree_sysroot_deployment_count(sysroot) == 2 &&
                     rostree_sysroot_deployment_serial(sysroot, 0) == 0,
                 "the rollback is the default");
    bad |= check(rostree_sysroot_set_default(sysroot, 5, NULL) ==
                     ROSTREE_ERROR_CODE_INVALID_ARGUMENT,
                 "no deployment 5 to make the default");
    char *root = rostree_sysroot_deployment_path(sysroot, 0);
    struct stat st;
    bad |= check(root && stat(join(path, root, "etc/os-release"), &st) == 0,
                 "the deployment's /etc holds the defaults");
    printf("deployment root %s\n", root ? root : "(none)");
    rostree_string_free(root);
    rostree_sysroot_free(sysroot);
    return bad;
}

int main(int argc, char **argv)
{
    int status;
    if (argc == 3 && strcmp(argv[1], "commit") == 0)
        status = phase_commit(argv[2]);
    else if (argc == 4 && strcmp(argv[1], "pull-deploy") == 0)
        status = phase_pull_deploy(argv[2], argv[3]);
    else {
        fprintf(stderr, "usage: example commit WORKDIR | example pull-deploy URL WORKDIR\n");
        return 2;
    }
    fflush(stdout);
    return status;
}
