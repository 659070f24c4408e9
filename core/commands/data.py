"""``invariance data``: check, fill or rebuild the MNIST cache."""

from __future__ import annotations

import argparse
import time

from core import data


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("data", help="MNIST: where it comes from, counts and checksums")
    parser.add_argument("--verify", action="store_true", help="load both splits and print counts and sha256")
    parser.add_argument("--rebuild", action="store_true", help="delete the cache and convert it again")
    parser.add_argument("--data-dir", help="read your own IDX files from this folder instead")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.rebuild:
        print(f"rebuilt cache in {data.rebuild_cache()}")
    if args.verify or not args.rebuild:
        print(f"cache folder: {data.cache_dir()}")
        for report in data.verify(args.data_dir):
            print(
                f"{report.split:5s} {report.count:6d} images  images sha256 {report.images_sha256}  "
                f"labels sha256 {report.labels_sha256}  source: {report.source}"
            )
    print(f"done in {time.perf_counter() - started:.2f} s")
    return 0
