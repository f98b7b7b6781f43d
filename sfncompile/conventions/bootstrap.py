"""The start of every Batch container: fetch the code package, check it, run the runtime.

A bare image with Python 3 and boto3 is enough: the code package carries the flow and the
sfncompile runtime, so the job definition's command is `python3 -c BOOTSTRAP --step ...`.
The code is kept short (it is visible in the job definition) and is tested by running it.
"""

from __future__ import annotations

# The code package's limits: deploy refuses a bigger package (deploy/package.py) and the
# bootstrap refuses one before it hashes or extracts it.
MAX_MEMBERS = 10_000
MAX_PACKAGE_BYTES = 256 << 20  # compressed, as uploaded
MAX_UNPACKED_BYTES = 1 << 30

# SFNCOMPILE_CODE_PACKAGE is s3://bucket/key of the tarball; SFNCOMPILE_CODE_SHA256 its
# sha256, checked before anything is extracted (each task records both: runtime/where.py).
# Members may not escape the directory, and a package over the limits above (size, members,
# unpacked size) is refused before it is hashed or extracted.
CODE_PACKAGE_ENV = "SFNCOMPILE_CODE_PACKAGE"
CODE_SHA_ENV = "SFNCOMPILE_CODE_SHA256"
# The step graph in the package (deploy writes it, a task and the client read it).
GRAPH_IN_PACKAGE = "_sfncompile/graph.json"
MiB = MAX_PACKAGE_BYTES >> 20
TOO_MANY = f"{MAX_MEMBERS} members or {MAX_UNPACKED_BYTES >> 20} MiB unpacked"
BOOTSTRAP = f"""\
import hashlib,os,sys,tarfile,tempfile,boto3
u=os.environ['SFNCOMPILE_CODE_PACKAGE'];b,_,k=u[5:].partition('/');d=tempfile.mkdtemp()
p=os.path.join(d,'code.tar.gz');boto3.client('s3').download_file(b,k,p)
if os.path.getsize(p)>{MAX_PACKAGE_BYTES}:sys.exit('sfncompile: code package over {MiB} MiB')
h=hashlib.sha256(open(p,'rb').read()).hexdigest()
if h!=os.environ['SFNCOMPILE_CODE_SHA256']:sys.exit('sfncompile: code package sha256 mismatch')
t=tarfile.open(p);n=s=0
for m in t:
 n+=1;s+=m.size
 if n>{MAX_MEMBERS} or s>{MAX_UNPACKED_BYTES}:sys.exit('sfncompile: package over '+{TOO_MANY!r})
if any(m.name.startswith(('/','..')) or '/../' in m.name or m.issym() or m.islnk() for m in t):
 sys.exit('sfncompile: unsafe code package')
t.extractall(d,**({{'filter':'data'}} if hasattr(tarfile,'data_filter') else {{}}))
os.chdir(d);sys.path.insert(0,d)
from sfncompile.runtime.__main__ import main;sys.exit(main(sys.argv[1:]))
"""
