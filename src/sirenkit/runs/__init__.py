"""The run folder, owned in one place: its file names (`files`), its marker and the files it owns (`folder`), its
lock (`lock`), and reading a finished run back (`load`: `load_run`, `read_config_file`).

The runner, every task, export and compression go through these modules; nothing else names a run's files.
Import the submodules directly (this package imports nothing, so that the checkpoint layer below may use
`runs.files`)."""
