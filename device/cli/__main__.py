from packgate.device.cli import main

main()
