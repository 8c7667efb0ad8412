"""Running the whole service under a supervisor: what `python run.py` starts and how it keeps it up.

    layout      where the run's generated configs, sockets and logs live under DATA_DIR
    lock        one run per data directory (a lock file held for the run's lifetime)
    programs    the supervised programs: valkey, CPU/GPU workers, the API, the nginx front
    front       the nginx front: finding the binary, rendering deploy/nginx's template
    supervisor_conf  supervisord.conf from the programs
    guard       supervisord event listener: kills what a dead program left, retries programs that gave up
    launch      a program's wrapper: waits until Redis answers, then execs the program
    control     a client of the running supervisord (status, pids, stop/start one program)
    runner      run.py's body: lock, plan, render, run supervisord in the foreground, stop cleanly
"""
