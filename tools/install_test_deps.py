"""Install what the tests need from Debian when it is missing: real speech, docker-compose.

asterisk-core-sounds-{en,es,fr,it,ru}-wav: 8 kHz telephone prompts (CC-BY-SA-3.0), with
their texts in asterisk-core-sounds-XX; asterisk-moh-opsound-wav: hold music; chromium
(the browser page test) and nginx (the load-balancer test). Needs root and
apt (as on CI); prints what to do otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LANGS = ("en", "es", "fr", "it", "ru")
SOUNDS = Path("/usr/share/asterisk/sounds")
DOCS = Path("/usr/share/doc")
MOH = Path("/usr/share/asterisk/moh")


def missing_packages() -> list[str]:
    missing = []
    for lang in LANGS:
        if not (SOUNDS / lang / "hello-world.wav").exists() and not any((SOUNDS / lang).glob("*.wav")):
            missing.append(f"asterisk-core-sounds-{lang}-wav")
        if not (DOCS / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz").exists():
            missing.append(f"asterisk-core-sounds-{lang}")
    if not any(MOH.glob("*.wav")):
        missing.append("asterisk-moh-opsound-wav")
    if shutil.which("docker-compose") is None:
        missing.append("docker-compose")  # validates docker-compose.yml (`docker-compose config -q`)
    if not Path("/usr/bin/chromium").exists():
        missing += ["chromium", "chromium-driver"]  # the browser page's test (headless)
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        missing.append("nginx")  # the load balancer in front of two replicas (deploy test)
    return missing


def main() -> int:
    missing = missing_packages()
    if not missing:
        print("test dependencies: installed")
        return 0
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"test dependencies missing; install as root: apt-get install {' '.join(missing)}", file=sys.stderr)
        return 1
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)
    return 0 if not missing_packages() else 1


if __name__ == "__main__":
    sys.exit(main())
