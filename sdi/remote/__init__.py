"""Remote loading (issue 22): the upload service at /uploads and the client behind `sdi load --server`.

It sits between the CLI and the pipeline in the layers: the service runs sdi.pipeline.run_load, so it
cannot live in sdi.server, which the pipeline imports.
"""
