"""One work function per job type: `work(ctx: JobContext, progress) -> result dict`.

Each calls a plain pipeline of worker/ (for every file of the job through runner.for_each_file) and
gets its models from the process' ModelManager (runtime.model_manager). Modules are imported only
when a worker runs a job of their type (jobs/types.py names them by path).
"""
