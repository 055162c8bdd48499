#!/usr/bin/env python3
"""Client-encrypted storage on the file blob store, measured against the disk it writes to.

Usage: bench/storage.py [--backup-mb 256] [--records 2000] [--no-build] [--binary PATH] [--smoke]

Serves blueprints/adiuva (client_storage: true) on SQLite, then: the disk's own sequential write speed (dd, fsynced)
and read speed in this run; one backup of --backup-mb MB uploaded (PUT /api/v1/backup, streamed) and downloaded
(GET /api/v1/backup), each as MB/s and as a ratio of the disk's speed, with the server's RSS growth during the
transfer; then --records records of 1 KB uploaded and read back one by one over a kept-alive connection: records/s
and their throughput as a ratio of the disk's. Targets: 0.70 of the disk's speed or more for the large backup, RSS
growth under 32 MB.
"""
import argparse, base64, hashlib, http.client, json, os, subprocess, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ADIUVA = os.path.join(common.ROOT, "blueprints", "adiuva")
MB = 1024 * 1024


def disk_speed(directory, megabytes):
    """Sequential write (fsynced) and read of a file of this size with dd, in MB/s: the read as the server's is (the
    file just written, from the page cache) and from the disk itself (O_DIRECT, where the file system allows it)."""
    path = os.path.join(directory, "dd.bin")
    started = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={megabytes}", "conv=fsync"], check=True, capture_output=True)
    write = megabytes / (time.perf_counter() - started)
    started = time.perf_counter()
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=1M"], check=True, capture_output=True)
    cached = megabytes / (time.perf_counter() - started)
    started = time.perf_counter()
    direct = subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=1M", "iflag=direct"], capture_output=True)
    uncached = megabytes / (time.perf_counter() - started) if direct.returncode == 0 else None
    os.remove(path)
    return write, cached, uncached


class RSSPeak:
    """The server's largest RSS while a transfer runs, sampled every 20 ms."""

    def __init__(self, server):
        self.server, self.peak, self.running = server, 0.0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while self.running:
            self.peak = max(self.peak, self.server.rss_mib())
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()
        return max(self.peak, self.server.rss_mib())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_arguments(parser)
    parser.add_argument("--backup-mb", type=int, default=256)
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    if args.smoke:
        args.backup_mb, args.records = 16, 50
    common.prepare(args)
    flags = ["--blueprint", ADIUVA, "--tiers-team-requests-per-minute", "1000000", "--storage-max-backup-mb", str(args.backup_mb + 1)]
    server = common.Server(flags=flags)
    try:
        token = server.signup()
        subprocess.run([common.BINARY, "users", "set-tier", "--email", "bench@example.com", "--tier", "team", *flags], cwd=server.workdir,
                       check=True, capture_output=True)
        build = "debug build (smoke run: the figures mean nothing)" if args.smoke else "release build"
        print(f"client storage on the file blob store, SQLite, {build}")
        disk_write, disk_read, disk_direct = disk_speed(server.workdir, args.backup_mb)
        direct = f", {disk_direct:.0f} MB/s from the disk itself (O_DIRECT)" if disk_direct else ""
        print(f"disk (dd, {args.backup_mb} MB): write {disk_write:.0f} MB/s (fsynced), read {disk_read:.0f} MB/s from the page cache{direct}")

        # One large backup, streamed from a file.
        source = os.path.join(server.workdir, "backup.bin")
        digest = hashlib.sha256()
        with open(source, "wb") as f:
            for _ in range(args.backup_mb):
                block = os.urandom(MB)
                digest.update(block)
                f.write(block)
        headers = {"Authorization": "Bearer " + token, "X-Backup-Version": "1", "X-Backup-Timestamp": str(int(time.time() * 1000)),
                   "X-Backup-Checksum": digest.hexdigest(), "Content-Type": "application/octet-stream",
                   "Content-Length": str(args.backup_mb * MB)}
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600, blocksize=MB)
        before = server.rss_mib()
        peak = RSSPeak(server)
        started = time.perf_counter()
        with open(source, "rb") as f:
            connection.request("PUT", "/api/v1/backup", body=f, headers=headers)
            response = connection.getresponse()
            answer = response.read()
        upload = args.backup_mb / (time.perf_counter() - started)
        upload_peak = peak.stop()
        if response.status != 201:
            sys.exit(f"the backup upload answered {response.status}: {answer[:300]}")
        # Checked once in Python, timed with curl into /dev/null: Python's own reading would be what is measured.
        connection.request("GET", "/api/v1/backup", headers={"Authorization": "Bearer " + token})
        response = connection.getresponse()
        received = hashlib.sha256()
        while True:
            chunk = response.read(MB)
            if not chunk:
                break
            received.update(chunk)
        if received.hexdigest() != digest.hexdigest():
            sys.exit("the downloaded backup is not the one uploaded")
        peak = RSSPeak(server)
        started = time.perf_counter()
        subprocess.run(["curl", "-s", "-f", "-o", "/dev/null", "-H", "Authorization: Bearer " + token, server.base + "/api/v1/backup"], check=True)
        download = args.backup_mb / (time.perf_counter() - started)
        download_peak = peak.stop()
        versus = f", {download / disk_direct:.2f} of the disk's own read" if disk_direct else ""
        print(f"backup of {args.backup_mb} MB: upload {upload:.0f} MB/s = {upload / disk_write:.2f} of the disk's write (target 0.70), "
              f"download {download:.0f} MB/s = {download / disk_read:.2f} of a page-cache read{versus}")
        print(f"server RSS {before:.1f} MiB before; growth during the upload {upload_peak - before:.1f} MiB, "
              f"during the download {download_peak - before:.1f} MiB (target under 32)")

        # Small records, one request each.
        payloads = [os.urandom(1024) for _ in range(args.records)]
        ids = []
        started = time.perf_counter()
        for payload in payloads:
            body = json.dumps({"table": "notes", "blob": base64.b64encode(payload).decode(), "checksum": hashlib.sha256(payload).hexdigest()})
            connection.request("POST", "/api/v1/storage/records", body=body,
                               headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 201:
                sys.exit(f"a record upload answered {response.status}: {answer[:300]}")
            ids.append(json.loads(answer)["id"])
        write_rate = args.records / (time.perf_counter() - started)
        started = time.perf_counter()
        for record in ids:
            connection.request("GET", "/api/v1/storage/records/" + record, headers={"Authorization": "Bearer " + token})
            response = connection.getresponse()
            if len(response.read()) != 1024:
                sys.exit("a record came back with another size")
        read_rate = args.records / (time.perf_counter() - started)
        print(f"{args.records} records of 1 KB: upload {write_rate:.0f}/s ({write_rate / 1024:.2f} MB/s = {write_rate / 1024 / disk_write:.3f} of the "
              f"disk's write: each is fsynced), download {read_rate:.0f}/s ({read_rate / 1024:.2f} MB/s)")
        connection.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
