from sfncompile.cli import main

main()
