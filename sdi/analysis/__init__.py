"""Planning with the data: the accessibility standards of art. 13f of the planning act, on the walking network.

network (build the noded, snapped network of a run) -> access (distances per parcel and standard) -> runs
(the job lifecycle: queued by the API or the CLI, run by the job runner, never by the API's workers).
This package imports sdi.core only.
"""
