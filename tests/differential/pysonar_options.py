"""Prints pysonar's declared command-line options, from its own argparse parser, as JSON:
[{"names": [...], "takes_value": bool, "property": "sonar.x" or null}]. Used by
tests/differential.rs to keep src/scanner_command/argparse.rs's table in step with pysonar."""
import argparse
import json

from pysonar_scanner.configuration import properties
from pysonar_scanner.configuration.cli import CliConfigurationLoader

parser = CliConfigurationLoader._CliConfigurationLoader__create_parser()
marker = argparse.Namespace(**{a.dest: "DEST:" + a.dest for a in parser._actions})
dest_to_property = {}
for prop in properties.PROPERTIES:
    if prop.cli_getter is not None:
        dest_to_property.setdefault(str(prop.cli_getter(marker)), prop.name)
print(json.dumps([
    {
        "names": a.option_strings,
        "takes_value": a.nargs != 0,
        "property": dest_to_property.get("DEST:" + a.dest),
    }
    for a in parser._actions
]))
