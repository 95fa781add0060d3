from rolehop.cli import main

main()
