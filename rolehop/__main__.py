from rolehop.fast import main

main()
