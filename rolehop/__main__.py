from rolehop.entry import main

main()
