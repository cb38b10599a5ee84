"""Reads command lines (one JSON array of arguments per line on stdin) with pysonar's own CLI
loader (pysonar_scanner.configuration.cli.CliConfigurationLoader.load, which runs argparse and
pysonar's step over the left-over -D arguments), and prints one JSON object per line:
{"props": {key: value}} or {"error": "<exception type>"}. Used by tests/differential.rs."""
import io
import json
import sys

from pysonar_scanner.configuration.cli import CliConfigurationLoader

out = sys.stdout
for line in sys.stdin:
    args = json.loads(line)
    sys.argv = ["pysonar"] + args
    sys.stdout = sys.stderr = io.StringIO()
    try:
        config = CliConfigurationLoader.load()
        result = {"props": {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}}
    except SystemExit as e:
        result = {"error": "exit %s" % e.code}
    except Exception as e:  # pysonar's UnexpectedCliArgument, argparse errors
        result = {"error": type(e).__name__}
    finally:
        sys.stdout, sys.stderr = out, sys.__stderr__
    out.write(json.dumps(result) + "\n")
out.flush()
