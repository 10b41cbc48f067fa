from trace2skill.cli import main

main()
