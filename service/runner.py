"""run.py's body: one run of the whole service under supervisord, in the foreground.

Order: take the data directory's lock, check the public port, decide Redis (REDIS_URL or an
embedded valkey; the database claimed for this data directory: service/redis_choice.py) and the front (nginx or
gunicorn alone), write supervisord's and nginx's configs into DATA_DIR/run, then run supervisord as a child
until Ctrl-C / SIGTERM, and stop it cleanly (the workers all at once, the other programs in priority order).
"""

from __future__ import annotations

import ctypes
import errno
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from supervisor.xmlrpc import Faults

from config import ENV_FILE_VAR, env_file
from jobs.redis_claim import CLAIM_ENV
from redis_server import KEEPS_NOTHING_NOTE, keeps_nothing, masked_url, redis_answers
from service import front, programs, redis_choice, startup, supervisor_conf, supervisord_main
from service.control import Supervisor
from service.layout import RunLayout
from service.lock import AlreadyRunning, DataDirLock
from service.programs import Options, Program

ROOT = Path(__file__).resolve().parent.parent
EXIT_ALREADY_RUNNING = 3
EXIT_PORT_IN_USE = 4
EXIT_NO_FRONT = 5  # also: REDIS_URL names no Redis where one cannot be started either
EXIT_START_FAILED = 6  # a program could not start: FATAL, or restarted before the service answered (service/startup.py)
EXIT_REDIS_CLAIMED = 7  # REDIS_URL's database serves another data directory (service/redis_choice.py)
# A stop's first signal waits at most this long for supervisord to send the programs that stop at once
# their signal, then sends supervisord its own SIGTERM anyway: one that does not answer must not hold
# up (or prevent) the stop; those programs then stop in their priority turn, as before.
STOP_AT_ONCE_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Plan:
    programs: list[Program]
    redis_url: str
    embedded: bool
    front_note: str  # how the public port is served, for the log
    behind_proxy: bool
    redis_note: str | None = None  # how the Redis was chosen, when it is not plainly REDIS_URL's


def setting(settings: dict, name: str, default: int) -> int:
    """A setting config.py may not list yet: the loaded settings, else the environment, else `default`."""
    raw = settings.get(name, os.environ.get(name, ""))
    return int(float(raw)) if str(raw).strip() else default


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx and gunicorn bind
        try:
            s.bind((host or "0.0.0.0", port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def choose_events(opts: Options, *, front_runs: bool, have_gevent: bool) -> tuple[bool, str]:
    """(run the gevent events server?, a line saying who serves GET /jobs/<id>/events).

    Raises SystemExit for --events gevent when it cannot run: gevent missing, or no front to route to it.
    """
    held = "each listener holds one of the API's threads"
    if opts.events == "api":
        return False, f"events: the API serves /jobs/<id>/events (--events api); {held}"
    if front_runs and have_gevent:
        return True, "events: a gevent server takes /jobs/<id>/events from nginx (an idle listener costs a greenlet)"
    problem = ("gevent is not installed (pip install gevent)" if not have_gevent
               else "there is no front to route /jobs/<id>/events to a server of their own")
    if opts.events == "gevent":
        raise SystemExit(f"--events gevent: {problem}")
    return False, f"events: WARNING {problem}; the API serves /jobs/<id>/events and {held}"


def choose_front(opts: Options, settings: dict, layout: RunLayout) -> tuple[str | None, str]:
    """(nginx binary or None, a line saying how the public port is served). Raises SystemExit for --front nginx."""
    public = f"{opts.host}:{opts.port}"
    if opts.front == "none":
        return None, f"front: none (--front none); gunicorn serves {public} directly"
    binary = front.find_nginx()
    problem = "nginx is not installed (apt-get install nginx)" if binary is None else None
    if binary is not None:
        events, _ = choose_events(opts, front_runs=True, have_gevent=programs.gevent_available())
        front.write_configs(layout, front.FrontSettings(
            listen=front.listen_address(opts.host, opts.port), upstream=f"unix:{layout.api_socket}",
            max_body_bytes=int(settings["MAX_UPLOAD_BYTES"]), access_log=str(layout.logs / "nginx-access.log"),
            header_timeout=setting(settings, "FRONT_HEADER_TIMEOUT", 10),
            body_timeout=setting(settings, "FRONT_BODY_TIMEOUT", 30),
            events_upstream=f"unix:{layout.events_socket}" if events else None))
        problem = front.check(binary, layout)
    if problem is None:
        return binary, f"front: nginx on {public} (buffers requests, cuts slow clients) -> API on {layout.api_socket}"
    if opts.front == "nginx":
        raise SystemExit(f"--front nginx: {problem}")
    return None, (f"front: WARNING {problem}; gunicorn serves {public} directly, "
                  "so slow clients can hold its threads")


def plan(opts: Options, settings: dict, layout: RunLayout) -> Plan:
    nginx, note = choose_front(opts, settings, layout)
    events, events_note = choose_events(opts, front_runs=nginx is not None, have_gevent=programs.gevent_available())
    # the Redis last: choosing it claims the database, which a start refused for its front or events must not leave
    choice = redis_choice.choose(settings, layout.data, take_over=opts.take_over_redis)
    redis_url, embedded_port = choice.url, choice.embedded_port
    progs = [programs.valkey(layout, embedded_port)] if embedded_port else []
    progs += programs.workers(opts, settings, redis_url)
    if nginx:
        progs.append(programs.api(opts, f"unix:{layout.api_socket}"))
        if events:
            listeners = setting(settings, "EVENTS_MAX_LISTENERS", 1000)
            progs.append(programs.events(f"unix:{layout.events_socket}", listeners))
        progs.append(programs.nginx(nginx, layout))
    else:
        host = f"[{opts.host}]" if ":" in opts.host else opts.host
        progs.append(programs.api(opts, f"{host}:{opts.port}"))
    return Plan(progs, redis_url, embedded_port is not None, f"{note}\n  {events_note}",
                behind_proxy=nginx is not None, redis_note=choice.note)


def _die_with_parent() -> None:
    """In supervisord's child: get SIGTERM when run.py dies, even by kill -9 (Linux prctl PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _become_subreaper() -> None:
    """Orphans of the supervised programs (a killed nginx's workers) become run.py's children, not init's.

    run.py then reaps them (see wait_for), so they never linger as zombies where the machine's init
    does not reap (containers without one), and can be found and stopped at the end.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # 36 = PR_SET_CHILD_SUBREAPER


def wait_for(proc: subprocess.Popen) -> int:
    """Wait for `proc` to exit, reaping every other child (adopted orphans) meanwhile; its exit code."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:  # reaped elsewhere: fall back to Popen's own bookkeeping
            return proc.wait()
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode


def sweep_session(session: int, grace: float = 10.0) -> int:
    """Stop whatever is left in supervisord's session after it exited; the number of processes stopped."""
    left = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getsid(proc.pid) == session and proc.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(proc)
        except OSError:
            continue
    for proc in left:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(left, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    return len(left)


def intro(opts: Options, plan_: Plan, layout: RunLayout) -> str:
    shown = f"[{opts.host}]" if ":" in opts.host else opts.host
    base = f"http://{shown}:{opts.port}"
    names = ", ".join(p.name for p in plan_.programs)
    # a shared Redis on another host that is away at start is waited for, not replaced: say so
    away = "" if plan_.embedded or redis_answers(plan_.redis_url) else (
        ", not answering yet: the API answers 503 and the workers wait until it does")
    volatile = "" if plan_.embedded or not keeps_nothing(plan_.redis_url) else f"  warning: {KEEPS_NOTHING_NOTE}\n"
    return (f"\nMusic Analyzer API: {base}  (Redis: {masked_url(plan_.redis_url)}"
            f"{', embedded' if plan_.embedded else ''}{away})\n"
            f"{volatile}"
            f"  {plan_.front_note}\n"
            f"  supervised: {names}; a program that dies is restarted\n"
            f"  logs: {layout.logs}/<program>.log   control: supervisorctl -c {layout.supervisor_conf} status\n"
            f"  curl {base}/health\n"
            f"  curl -u USER:PASS -X POST {base}/sessions\n"
            f"  curl -u USER:PASS -F file=@song.mp3 {base}/sessions/SESSION/files\n"
            f"  curl -u USER:PASS -X POST -H 'Content-Type: application/json' -d '{{}}' "
            f"{base}/process/features/SESSION\n")


def shared_settings(settings: dict) -> dict[str, str]:
    """What makes the programs (run in the repository folder) read the settings run.py read: its `.env` (the one
    in the directory it was started in, or MUSIC_ANALYZER_ENV_FILE's), and the folders named relative to that
    directory, resolved there as DATA_DIR is."""
    shared = {ENV_FILE_VAR: str(env_file().absolute())}
    for var, value in {"MODELS_DIR": settings["MODELS_DIR"], **settings.get("MODEL_PATHS", {})}.items():
        shared[var] = str(Path(value).expanduser().absolute())
    return shared


def low_disk_note(settings: dict) -> str | None:
    """A warning at start when DATA_DIR is already below MIN_FREE_DISK_MB: every upload and new session would be
    refused with 507 (a stranger's 40 MB volume, under the 256 MB default, refused everything and run.py said
    nothing)."""
    from disk_space import MB, disk_space

    try:
        space = disk_space(settings["DATA_DIR"], min_free_mb=float(settings["MIN_FREE_DISK_MB"]))
    except OSError:
        return None
    if not space.low:
        return None
    return (f"run.py: warning: {space.free_bytes / MB:.0f} MB free in DATA_DIR ({settings['DATA_DIR']}), below "
            f"MIN_FREE_DISK_MB ({space.min_free_bytes / MB:.0f} MB): uploads and new sessions are refused (507) "
            "until space is freed; on a small volume set MIN_FREE_DISK_MB lower")


def send_stops(layout: RunLayout, names: list[str]) -> None:
    """Have supervisord send each of `names` its stop signal now, without waiting for it to stop.

    supervisord stops one group at a time, in priority order, and each group fully before the next:
    two workers stopped that way get their TERM one after the other, the second only once the first
    has finished its job (up to its stopwaitsecs), and the second goes on taking new jobs meanwhile.
    Stopped this way each finishes just its running job, on its own stopwaitsecs timer; supervisord's
    own stop then finds them STOPPING and leaves them to it.
    """
    sup = Supervisor(layout)
    for name in names:
        try:
            sup.send_stop(name)
        except xmlrpc.client.Fault as e:
            if e.faultCode != Faults.NOT_RUNNING:  # not running: nothing to stop
                print(f"run.py: could not stop {name} at once ({e.faultString}); it stops in its turn",
                      file=sys.stderr, flush=True)
        except (OSError, http.client.HTTPException, xmlrpc.client.Error) as e:  # supervisord not up (yet), or gone
            print(f"run.py: could not reach supervisord to stop {name} at once ({e}); it stops in its turn",
                  file=sys.stderr, flush=True)
            return


def supervise(layout: RunLayout, env: dict[str, str], lock: DataDirLock, at_once: list[str], banner: str,
              ready: Callable[[], bool]) -> int:
    """Run supervisord until it exits; Ctrl-C / SIGTERM stop it. 0 after a requested stop.

    `at_once`: programs sent their stop signal as the stop begins, all together (the workers).
    `banner`: printed once every program is up and `ready()`; a program that cannot start stops the run instead
    (EXIT_START_FAILED).
    """
    # Its own session: a terminal's Ctrl-C reaches run.py only, which has the workers stopped at once
    # and asks supervisord to stop the other programs in order; and everything supervisord starts
    # shares that session, so what is left after it exits can be found and stopped. It inherits the
    # lock, so a run.py killed by -9 does not free the data directory while supervisord still stops
    # the programs.
    _become_subreaper()
    supervisor_conf.append_to_output_files()
    sup = subprocess.Popen(supervisord_main.command(str(layout.supervisor_conf)),
                           cwd=ROOT, env=env, start_new_session=True, pass_fds=lock.fds(),
                           preexec_fn=_die_with_parent)
    requested: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        first = not requested
        requested.append(signum)
        if first and at_once:
            # over supervisord's socket, off the handler's own code path: a supervisord that does not
            # answer leaves the thread waiting (a daemon: it does not hold up run.py's exit), not the stop.
            # A second Ctrl-C during the wait runs this handler again, which signals supervisord at once.
            asking = threading.Thread(target=send_stops, args=(layout, at_once), name="send-stops", daemon=True)
            asking.start()
            asking.join(STOP_AT_ONCE_WAIT_SECONDS)
        try:
            sup.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    failed: list[str] = []

    def watch_start() -> None:  # a thread: the main one waits in wait_for, reaping, and takes the signals
        outcome = startup.wait_until_up(layout, sup, lambda: bool(requested), ready)
        if outcome.up:
            print(banner, flush=True)
        elif outcome.failed is not None:
            failed.append(outcome.failed)
            print(startup.failure_note(layout, outcome.failed, for_good=outcome.for_good), file=sys.stderr, flush=True)
            try:
                sup.send_signal(signal.SIGTERM)  # supervisord stops the others in their order
            except ProcessLookupError:
                pass

    threading.Thread(target=watch_start, name="watch-start", daemon=True).start()
    code = wait_for(sup)
    left = sweep_session(sup.pid)
    if left:
        print(f"run.py: stopped {left} process(es) left after supervisord exited", file=sys.stderr, flush=True)
    if failed:
        return EXIT_START_FAILED
    if requested and code == 0:
        return 0
    how = f"by signal {-code}" if code < 0 else f"with code {code}"
    print(f"run.py: supervisord exited {how}{'' if requested else ' unexpectedly'}", file=sys.stderr, flush=True)
    return code if code > 0 else 1


def run(opts: Options, settings: dict) -> int:
    layout = RunLayout.for_data_dir(Path(settings["DATA_DIR"]))
    layout.create()
    lock = DataDirLock(layout.lock_file)
    try:
        lock.acquire()
    except AlreadyRunning as e:
        print(f"run.py: {e}; not starting a second one (stop it first, or use another DATA_DIR)", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    try:
        if port_in_use(opts.host, opts.port):
            print(f"run.py: port {opts.port} on {opts.host or '0.0.0.0'} is already in use; not starting",
                  file=sys.stderr)
            return EXIT_PORT_IN_USE
        try:
            plan_ = plan(opts, settings, layout)
        except SystemExit as e:
            print(f"run.py: {e}", file=sys.stderr)
            return EXIT_NO_FRONT
        except redis_choice.RedisClaimed as e:
            print(f"run.py: {e}", file=sys.stderr)
            return EXIT_REDIS_CLAIMED
        if plan_.redis_note is not None:
            print(f"run.py: {plan_.redis_note}", file=sys.stderr, flush=True)
        # owner-only from its first byte: its commands name REDIS_URL, password included (a stranger found it 0644)
        conf = layout.supervisor_conf
        conf.unlink(missing_ok=True)
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as fh:
            fh.write(supervisor_conf.render(layout, plan_.programs, str(ROOT)))
        env = {**os.environ, "REDIS_URL": plan_.redis_url, "DATA_DIR": str(layout.data), "PYTHONUNBUFFERED": "1"}
        env[CLAIM_ENV] = "1"  # its workers claim the database if run.py could not yet (embedded, or not answering)
        # numba-compiled DSP caches its machine code here (the CPU worker fills it at start: jobs/warmup.py), so a
        # new worker or pool child loads it instead of compiling
        env.setdefault("NUMBA_CACHE_DIR", str(layout.data / "numba-cache"))
        # the API's processes count HTTP requests and uploads into one place, summed by GET /metrics (the work's
        # counters are in Redis, every machine's: jobs/metrics.py)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(layout.fresh_metrics_dir())
        # behind nginx the API may trust one hop of X-Forwarded-For / -Proto (the front's)
        env["TRUSTED_PROXY_HOPS"] = "1" if plan_.behind_proxy else "0"
        # and hand downloads to it: nginx sends them from DATA_DIR, no API thread or temp file per reader
        env["FILES_VIA_FRONT"] = "1" if plan_.behind_proxy else "0"
        # the GPU worker leaves the CPU pool's cores to it (config.torch_threads: TORCH_NUM_THREADS' auto default)
        env["CPU_CONCURRENCY"] = str(opts.cpu_concurrency)
        env.update(shared_settings(settings))
        if (note := low_disk_note(settings)) is not None:
            print(note, file=sys.stderr, flush=True)
        # asked on the public port, as a client would; 0.0.0.0 / :: (every address) answer on the loopback
        local = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(opts.host, opts.host)
        base = f"http://{f'[{local}]' if ':' in local else local}:{opts.port}"
        queues = {p.name.removesuffix("-worker") for p in plan_.programs if p.name.endswith("-worker")}
        return supervise(layout, env, lock, [p.name for p in plan_.programs if p.stops_at_once],
                         intro(opts, plan_, layout), lambda: startup.service_answers(base, queues))
    finally:
        layout.remove_metrics_dir()  # ours alone: the lock is held
        lock.release()
