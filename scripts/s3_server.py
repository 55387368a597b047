"""An S3-compatible server for the tests: moto's WSGI app, one request at a
time (its threaded mode loses concurrent conditional writes).

    python s3_server.py PORT
"""
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

port = int(sys.argv[1])
app = DomainDispatcherApplication(create_backend_app)
run_simple("127.0.0.1", port, app, threaded=False, use_reloader=False, use_debugger=False)
